// What the runtime holds for "send it to that node": encodes the message once and hands it to the outbox.

import type { Delivery } from "../core/delivery.js";
import type { RemoteRoute } from "../core/cluster-side.js";
import { encode } from "../wire/codec.js";
import { Outgoing } from "./outgoing.js";
import type { PeerStream } from "./peer-stream.js";

export interface PeerRouteHost {
  /** Puts the message in `stream` (the outbox for its node) and transmits it. */
  send(stream: PeerStream, outgoing: Outgoing): void;
  /** Parks the message until a node has credit, for at most `waitMs`. */
  wait(outgoing: Outgoing, waitMs: number): void;
  /** Times the request out at its deadline. */
  track(outgoing: Outgoing): void;
  now(): number;
}

/** The route to `stream`'s node; to no node yet (wait for credit) when `stream` is undefined. */
export function peerRoute(stream: PeerStream | undefined, host: PeerRouteHost): RemoteRoute {
  return {
    nodeId: stream?.nodeId ?? "",
    publish(service: string, message: unknown, custodian: Delivery | undefined, waitMs: number, key: string | undefined): Promise<void> {
      let body: Uint8Array;
      try {
        body = encode(message);
      } catch (error) {
        custodian?.childSafe();
        return Promise.reject(error);
      }
      const { outgoing, accepted } = Outgoing.publish(service, message, body, key, custodian);
      outgoing.waitMs = waitMs;
      if (stream !== undefined) host.send(stream, outgoing);
      else host.wait(outgoing, waitMs);
      return accepted;
    },
    request(service: string, message: unknown, deadline: number, key: string | undefined): Promise<unknown> {
      let body: Uint8Array;
      try {
        body = encode(message);
      } catch (error) {
        return Promise.reject(error);
      }
      const { outgoing, reply } = Outgoing.request(service, message, body, key, deadline);
      host.track(outgoing);
      if (stream !== undefined) host.send(stream, outgoing);
      else host.wait(outgoing, deadline - host.now());
      return reply;
    },
  };
}
