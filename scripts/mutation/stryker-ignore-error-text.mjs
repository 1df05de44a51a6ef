// A Stryker ignorer (loaded by js-mutations.mjs): the arguments of `new SomethingError(…)` — the message text and the
// `details` shown to an operator — keep no promise (callers and tests act on the error's class and stable `code`), so
// mutating them only produces noise. The throw itself, its condition and the error's class stay mutated.
const isErrorClass = (callee) => callee?.type === "Identifier" && /Error$/.test(callee.name);

export const strykerPlugins = [
  {
    kind: "Ignore",
    name: "praxa-error-text",
    value: {
      shouldIgnore(path) {
        const parent = path.parentPath?.node;
        if (path.listKey === "arguments" && parent?.type === "NewExpression" && isErrorClass(parent.callee)) {
          return "an error message or its details: callers act on the class and code, not the text";
        }
        return undefined;
      },
    },
  },
];
