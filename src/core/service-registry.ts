// The services compiled into an app: their ids, classes and validated options.

import { createHash } from "node:crypto";
import { KaffixError } from "../errors.js";
import { Service, serviceIdOf, type ServiceClass, type ServiceOptions } from "./service.js";

export interface Registration {
  readonly id: string;
  readonly service: ServiceClass;
  readonly options: Readonly<ServiceOptions>;
  /** Short digest of the id and the declared contract label; equal fingerprints mean compatible nodes. */
  readonly fingerprint: string;
  /** Position in the order services were added: a dense index for per-service counters. */
  readonly index: number;
}

const ID_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/;

export class ServiceRegistry {
  readonly #byId = new Map<string, Registration>();
  readonly #byClass = new Map<ServiceClass, Registration>();

  add(service: ServiceClass, options: ServiceOptions = {}): Registration {
    if (typeof service !== "function" || !(service.prototype instanceof Service)) {
      throw new KaffixError("INVALID_ARGUMENT", "addService expects a class that extends Service");
    }
    const id = serviceIdOf(service);
    if (typeof id !== "string" || !ID_PATTERN.test(id)) {
      throw new KaffixError(
        "INVALID_ARGUMENT",
        `service id ${JSON.stringify(id)} is invalid: use letters, digits, "_", "." or "-", starting with a letter or "_", at most 128 characters`,
      );
    }
    const existing = this.#byId.get(id);
    if (existing !== undefined) {
      const what = existing.service === service ? "was added twice" : `is used by both ${existing.service.name} and ${service.name}`;
      throw new KaffixError("DUPLICATE_SERVICE", `service id "${id}" ${what}; set a distinct static id`, {
        data: { service: id },
      });
    }
    validateOptions(id, options);
    const contract = Object.prototype.hasOwnProperty.call(service, "contract") ? service.contract : undefined;
    if (contract !== undefined && (typeof contract !== "string" || contract.length > 128)) {
      throw new KaffixError("INVALID_ARGUMENT", `service "${id}": static contract must be a string of at most 128 characters`);
    }
    const fingerprint = createHash("sha256").update(`kaffix-contract\0${id}\0${contract ?? ""}`).digest("hex").slice(0, 16);
    const registration: Registration = { id, service, options: Object.freeze({ ...options }), fingerprint, index: this.#byId.size };
    this.#byId.set(id, registration);
    this.#byClass.set(service, registration);
    return registration;
  }

  byId(id: string): Registration | undefined {
    return this.#byId.get(id);
  }

  byClass(service: ServiceClass): Registration | undefined {
    return this.#byClass.get(service);
  }

  get ids(): string[] {
    return [...this.#byId.keys()];
  }

  /** Every service's id with its contract fingerprint, as announced in the hello. */
  catalog(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const registration of this.#byId.values()) out[registration.id] = registration.fingerprint;
    return out;
  }
}

function validateOptions(id: string, options: ServiceOptions): void {
  if (options === null || typeof options !== "object") {
    throw new KaffixError("INVALID_ARGUMENT", `options of service "${id}" must be an object`);
  }
  const fail = (field: string, rule: string, value: unknown) => {
    throw new KaffixError("INVALID_ARGUMENT", `service "${id}": ${field} must be ${rule}, got ${JSON.stringify(value)}`, {
      data: { service: id, field },
    });
  };
  const integer = (field: keyof ServiceOptions, min: number, max = Number.MAX_SAFE_INTEGER) => {
    const value = options[field];
    if (value === undefined) return;
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
      fail(field, `an integer from ${min} to ${max}`, value);
    }
  };
  integer("concurrency", 1, 100_000);
  integer("queueLimit", 1, 10_000_000);
  integer("retries", 0, 100);
  integer("retryBackoffMs", 0, 3_600_000);
  integer("minReplicas", 0, 1000);
  integer("maxReplicas", 1, 1000);
  if (options.minReplicas !== undefined && options.maxReplicas !== undefined && options.minReplicas > options.maxReplicas) {
    fail("minReplicas", `at most maxReplicas (${options.maxReplicas})`, options.minReplicas);
  }
  if (options.spread !== undefined && typeof options.spread !== "boolean") fail("spread", "a boolean", options.spread);
  for (const field of ["near", "region"] as const) {
    const value = options[field];
    if (value !== undefined && (typeof value !== "string" || value.length === 0 || value.length > 128)) {
      fail(field, "a non-empty string of at most 128 characters", value);
    }
  }
  if (options.schema !== undefined && (options.schema === null || typeof options.schema.parse !== "function")) {
    fail("schema", "an object with a parse(input) method", typeof options.schema);
  }
  if (options.key !== undefined && typeof options.key !== "function") {
    fail("key", "a function from message to string or number", typeof options.key);
  }
  const known = new Set([
    "concurrency", "queueLimit", "retries", "retryBackoffMs", "schema", "key",
    "minReplicas", "maxReplicas", "spread", "near", "region",
  ]);
  for (const key of Object.keys(options)) {
    if (!known.has(key)) {
      throw new KaffixError("INVALID_ARGUMENT", `service "${id}": unknown option "${key}"; known options are ${[...known].join(", ")}`, {
        data: { service: id, field: key },
      });
    }
  }
}
