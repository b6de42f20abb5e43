// The origin example: one service doubles a number, another saves the result to a file.

import { appendFile } from "node:fs/promises";
import { resolve } from "node:path";
import { App, Service, type Context } from "../../src/index.js";

/** Where SaveNumberService writes: $SAVE_NUMBERS_FILE, or saved-numbers.txt in the current directory. */
export function saveNumbersFile(): string {
  return resolve(process.env.SAVE_NUMBERS_FILE ?? "saved-numbers.txt");
}

export class SaveNumberService extends Service<{ number: number }> {
  async onMessage(message: { number: number }, ctx: Context): Promise<void> {
    const { number } = message;
    await appendFile(saveNumbersFile(), `${number}\n`);
    ctx.log.info({ number }, "saved number");
  }
}

export class DoubleNumberService extends Service<{ number: number }> {
  async onMessage(message: { number: number }, ctx: Context): Promise<void> {
    await ctx.publish(SaveNumberService, { number: message.number * 2 });
  }
}

export function createApp(): App {
  return new App({ name: "Double Number" }).addService(DoubleNumberService).addService(SaveNumberService);
}
