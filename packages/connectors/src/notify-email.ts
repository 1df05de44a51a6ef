/**
 * Email over SMTP (nodemailer), through the platform's relay (`PRAXA_SMTP_URL`): the address is the channel's target.
 * A permanent SMTP answer (5xx: no such mailbox, relaying denied) is refused for good; 4xx answers, timeouts and
 * connection errors are worth retrying. No retries inside: the queue retries with backoff.
 */
import nodemailer from "nodemailer";
import { UnavailableError } from "@praxa/core";
import { NotificationRejectedError } from "./notify-errors.js";
import { noticeSummary, noticeText, type Notice } from "./notify-message.js";

export interface SmtpRelay {
  /** `smtp://[user:pass@]host:port` or `smtps://…`. */
  readonly url: string;
  readonly from: string;
  readonly timeoutMs?: number;
}

export async function sendNoticeEmail(relay: SmtpRelay, to: string, notice: Notice): Promise<{ messageId: string }> {
  const timeout = relay.timeoutMs ?? 10_000;
  const transport = nodemailer.createTransport({
    url: relay.url,
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
  });
  try {
    const info = await transport.sendMail({
      from: relay.from,
      to,
      subject: `[Praxa] ${noticeSummary(notice)}`.slice(0, 250),
      text: noticeText(notice),
      headers:
        notice.event === "siem.disabled"
          ? { "X-Praxa-Siem-Subscription": notice.subscription.id, "X-Praxa-Event": notice.event }
          : { "X-Praxa-Skill": notice.skill.id, "X-Praxa-Event": notice.event },
    });
    return { messageId: info.messageId };
  } catch (err) {
    const code = (err as { responseCode?: unknown }).responseCode;
    if (typeof code === "number" && code >= 500)
      throw new NotificationRejectedError(`the mail relay refused the message (SMTP ${code})`, {
        cause: err,
        details: { smtp: code },
      });
    throw new UnavailableError(`the mail relay is unavailable${typeof code === "number" ? ` (SMTP ${code})` : ""}`, {
      cause: err,
    });
  } finally {
    transport.close();
  }
}
