// The public API of Kaffix: everything a user imports comes from here.

export { App } from "./app.js";
export type { AppOptions, AppState, ClusterView, NodeStatus, ServiceStatus, StopOptions } from "./app.js";
export type { MemberView, PeerLink } from "./cluster/cluster-node.js";
export type { MembershipOptions } from "./cluster/membership-options.js";
export { Service, serviceIdOf } from "./core/service.js";
export type { MessageOf, MessageSchema, ReplyOf, ServiceClass, ServiceOptions } from "./core/service.js";
export type { Context, PublishOptions, RequestOptions } from "./core/context.js";
export type { DeadLetter } from "./core/dead-letters.js";
export type { Clock, TimerHandle } from "./clock.js";
export { systemClock } from "./clock.js";
export type { HttpOptions, LogLevel, StartOptions } from "./core/start-options.js";
export type { PlacementOptions } from "./placement/placement-options.js";
export type { PlacementEvent, PlacementView } from "./placement/placement-loop.js";
export type { Move, MoveReason, NodeScore, ServicePlan } from "./placement/plan-output.js";
export { DEFAULT_PORT } from "./core/start-options.js";
export { ErrorCodes, KaffixError, toKaffixError } from "./errors.js";
export type { ErrorCode, KaffixErrorOptions, WireError } from "./errors.js";
