// The hello exchange on a freshly secured stream: send ours, read theirs, refuse with a reason or hand the stream on.

import type { Duplex } from "node:stream";
import { KaffixError } from "../errors.js";
import { encodeFrame, FrameType, FRAME_HEADER_BYTES } from "../wire/frame.js";
import { helloProblem, refusalReason } from "./hello.js";
import type { Hello } from "./transport.js";

export interface HelloOutcome {
  remote: Hello;
  /** Bytes that followed the peer's hello; the next reader of the stream must start with them. */
  leftover: Buffer;
}

/** Encodes a hello frame, or throws INVALID_ARGUMENT if it is over `maxHelloBytes`. */
export function encodeHello(hello: Hello, maxHelloBytes: number): Buffer {
  const payload = Buffer.from(JSON.stringify(hello), "utf8");
  if (payload.length > maxHelloBytes) {
    throw new KaffixError("INVALID_ARGUMENT", `this node's hello is ${payload.length} bytes, over the limit of ${maxHelloBytes}`);
  }
  return encodeFrame(FrameType.HELLO, payload);
}

/**
 * Writes `helloFrame`, then reads the peer's first frame: a HELLO, checked with `helloProblem` and
 * `refusalReason`, or a REFUSE. Resolves with the peer's hello and leaves the stream paused with no
 * 'data' listener. Rejects with INCOMPATIBLE_PEER (data.refusedBy "local" after this side wrote a
 * REFUSE and ended the stream, "peer" after the peer refused), PROTOCOL_ERROR, or LINK_CLOSED.
 */
export function exchangeHellos(socket: Duplex, local: Hello, helloFrame: Buffer, maxHelloBytes: number): Promise<HelloOutcome> {
  return new Promise((resolve, reject) => {
    // Chunks are kept apart and joined once: a peer trickling bytes must not cause quadratic copying.
    const chunks: Buffer[] = [];
    let receivedBytes = 0;
    let length = -1;
    const finish = (): void => {
      socket.off("data", onData);
      socket.off("close", onClose);
      socket.off("error", onError);
      socket.pause();
    };
    const fail = (error: KaffixError): void => {
      finish();
      reject(error);
    };
    const onError = (error: Error): void =>
      fail(new KaffixError("LINK_CLOSED", `connection failed during the hello: ${error.message}`, { cause: error }));
    const onClose = (): void => fail(new KaffixError("LINK_CLOSED", "connection closed during the hello"));
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      receivedBytes += chunk.length;
      if (length < 0) {
        if (receivedBytes < 4) return;
        length = Buffer.concat(chunks, 4).readUInt32BE(0);
        if (length === 0 || length - 1 > maxHelloBytes) {
          return fail(new KaffixError("PROTOCOL_ERROR", `first frame of ${length} bytes is not a hello within ${maxHelloBytes} bytes`));
        }
      }
      if (receivedBytes < 4 + length) return;
      const received = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, receivedBytes);
      const type = received[4];
      const payload = received.subarray(FRAME_HEADER_BYTES, 4 + length);
      const leftover = received.subarray(4 + length);
      if (type === FrameType.REFUSE) {
        const reason = payload.toString("utf8").slice(0, 1024);
        return fail(new KaffixError("INCOMPATIBLE_PEER", `refused by peer: ${reason}`, { data: { refusedBy: "peer", reason } }));
      }
      if (type !== FrameType.HELLO) return fail(new KaffixError("PROTOCOL_ERROR", `first frame has type ${type}, not HELLO`));
      let remote: unknown;
      try {
        remote = JSON.parse(payload.toString("utf8"));
      } catch {
        return fail(new KaffixError("PROTOCOL_ERROR", "hello is not valid JSON"));
      }
      const problem = helloProblem(remote);
      if (problem !== undefined) return fail(new KaffixError("PROTOCOL_ERROR", problem));
      const reason = refusalReason(local, remote as Hello);
      if (reason !== undefined) {
        socket.end(encodeFrame(FrameType.REFUSE, Buffer.from(reason, "utf8")));
        return fail(new KaffixError("INCOMPATIBLE_PEER", reason, { data: { refusedBy: "local", reason } }));
      }
      finish();
      resolve({ remote: remote as Hello, leftover });
    };
    socket.on("data", onData);
    socket.on("close", onClose);
    socket.on("error", onError);
    socket.write(helloFrame);
  });
}
