// Type-level checks of the public API: `tsc --noEmit` (CI) fails if an @ts-expect-error line stops erroring.
import assert from "node:assert/strict";
import { test } from "node:test";
import { App, Service, type Context, type MessageOf, type ReplyOf } from "../index.js";

class Save extends Service<{ number: number }> {
  static id = "save";
  async onMessage(_message: { number: number }, _ctx: Context) {}
}
class Double extends Service<{ number: number }, number> {
  onMessage(message: { number: number }, ctx: Context) {
    ctx.publish(Save, { number: message.number * 2 });
    // @ts-expect-error a string is not a number
    ctx.publish(Save, { number: "2" });
    // @ts-expect-error a missing field
    ctx.publish(Save, {});
    return message.number * 2;
  }
}

test("message and reply types are read from the service class", async () => {
  const message: MessageOf<typeof Double> = { number: 1 };
  const app = new App({ name: "types" }).addService(Double).addService(Save);
  await app.start({ port: 0, host: "127.0.0.1", logLevel: "silent" });
  try {
    const reply: ReplyOf<typeof Double> = await app.request(Double, message);
    // @ts-expect-error the reply is a number
    const wrong: string = await app.request(Double, message);
    void wrong;
    assert.equal(reply, 2);
  } finally {
    await app.stop();
  }
});
