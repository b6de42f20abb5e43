// Reads a request body as JSON without ever holding more than the configured number of bytes.

import type { IncomingMessage } from "node:http";
import { KaffixError } from "../errors.js";

/**
 * Resolves with the parsed JSON body. Rejects with PAYLOAD_TOO_LARGE as soon as the declared
 * Content-Length or the bytes received so far pass `maxBytes` (reading stops there: the caller
 * answers and closes the connection), and with BAD_REQUEST for an empty or malformed body.
 * The Content-Type is not checked: clients that forget it still get served.
 */
export async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const text = (await readBody(req, maxBytes)).toString("utf8");
  if (text.trim() === "") throw new KaffixError("BAD_REQUEST", "the request body is empty; send the message as JSON");
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new KaffixError("BAD_REQUEST", `the request body is not valid JSON: ${reason}`);
  }
}

export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > maxBytes) return Promise.reject(tooLarge(maxBytes));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > maxBytes) {
        cleanup();
        req.pause();
        reject(tooLarge(maxBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks, received));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(new KaffixError("BAD_REQUEST", `the request body could not be read: ${error.message}`, { cause: error }));
    };
    const onClose = () => {
      cleanup();
      reject(new KaffixError("BAD_REQUEST", "the client closed the connection before the body was complete"));
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("close", onClose);
  });
}

function tooLarge(maxBytes: number): KaffixError {
  return new KaffixError("PAYLOAD_TOO_LARGE", `the request body is over the limit of ${maxBytes} bytes`, {
    data: { maxBodyBytes: maxBytes },
  });
}
