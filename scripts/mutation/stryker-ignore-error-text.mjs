// A Stryker ignorer (loaded by js-mutations.mjs): the arguments of `new SomethingError(…)` — the message text and the
// `details` shown to an operator — keep no promise (callers and tests act on the error's class and stable `code`), so
// mutating them only produces noise; so are the arguments of `super(…)` inside an error class's constructor. The throw
// itself, its condition, the error's class and its `code` stay mutated.
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
        // The same text written inside an error class: `super(message, { details })` in `class …Error`.
        if (path.listKey === "arguments" && parent?.type === "CallExpression" && parent.callee?.type === "Super") {
          const cls = path.findParent((p) => p.isClassDeclaration() || p.isClassExpression());
          if (isErrorClass(cls?.node?.id))
            return "an error class's message or its details (super arguments): callers act on the class and code";
        }
        return undefined;
      },
    },
  },
];
