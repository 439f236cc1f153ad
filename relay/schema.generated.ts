// Generated from manifests/crd/relays.socat.io.yaml by scripts/gen-relay-schema.ts — do not edit.
// The Relay's spec as TypeScript types and as data (its structural schema, walked by relay/structure.ts).
import type { StructuralSchema } from './structure.js';

/** TCP (default) or UDP. */
export const PROTOCOLS = ["TCP", "UDP"] as const;
export type Protocol = (typeof PROTOCOLS)[number];

/** OneWay (default): datagrams to the target, no replies (syslog, statsd). RequestReply: DNS-like exchanges. */
export const UDP_MODES = ["OneWay", "RequestReply"] as const;
export type UdpMode = (typeof UDP_MODES)[number];

/** In, NotIn, Exists or DoesNotExist. */
export const SELECTOR_OPERATORS = ["In", "NotIn", "Exists", "DoesNotExist"] as const;
export type SelectorOperator = (typeof SELECTOR_OPERATORS)[number];

/** One requirement: a key, an operator and, for In and NotIn, values. */
export interface LabelSelectorRequirement {
  /** The label key. */
  key: string;
  /** In, NotIn, Exists or DoesNotExist. */
  operator: SelectorOperator;
  /** The values for In and NotIn; empty for Exists and DoesNotExist. */
  values?: string[];
}

/** A label selector over namespaces whose pods may consume this relay; {} selects every namespace. */
export interface LabelSelector {
  /** Namespace labels that must all be present with these values. */
  matchLabels?: Record<string, string>;
  /** Requirements on namespace labels, all of which must hold. */
  matchExpressions?: LabelSelectorRequirement[];
}

/** Requests and limits of the injected sidecar (cpu, memory, ephemeral-storage). */
export interface SidecarResources {
  /** Resource requests (cpu, memory, ephemeral-storage); replace the controller's defaults as a whole. */
  requests?: Record<string, number | string>;
  /** Resource limits (cpu, memory, ephemeral-storage). */
  limits?: Record<string, number | string>;
}

/** What to relay, from which nodes, to which consumer namespaces. */
export interface RelaySpec {
  /** TCP (default) or UDP. */
  protocol?: Protocol;
  /** The service on the node's loopback. */
  target: {
    /** Loopback only: an address in 127.0.0.0/8 (dotted decimal), ::1, or localhost. */
    host: string;
    /** The TCP or UDP port of the service on the node's loopback. */
    port: number;
  };
  /** Where the sidecar listens inside the consumer pod. */
  listen?: {
    /** Defaults to target.port. */
    port?: number;
    /** Default 127.0.0.1 (only the pod itself). 0.0.0.0 or :: expose the relay to the pod network. */
    address?: string;
  };
  /** UDP only. */
  udp?: {
    /** OneWay (default): datagrams to the target, no replies (syslog, statsd). RequestReply: DNS-like exchanges. */
    mode?: UdpMode;
    /** How long a RequestReply exchange waits for the reply (default 5). */
    replyTimeoutSeconds?: number;
  };
  /** Node labels (all must match) of the nodes that run this relay; empty = every node. */
  nodeSelector?: Record<string, string>;
  /** Required: the namespaces whose pods may consume this relay. namespaceSelector: {} means every namespace. */
  consumers: {
    /** Names of the namespaces whose pods may consume this relay. */
    namespaces?: string[];
    /** A label selector over namespaces whose pods may consume this relay; {} selects every namespace. */
    namespaceSelector?: LabelSelector;
  };
  /** Settings of the socat sidecar injected into consumer pods. */
  sidecar?: {
    /** Requests and limits of the injected sidecar (cpu, memory, ephemeral-storage). */
    resources?: SidecarResources;
  };
}

export const RELAY_SPEC_SCHEMA: StructuralSchema = {
  "type": "object",
  "required": [
    "target",
    "consumers"
  ],
  "properties": {
    "protocol": {
      "type": "string",
      "enum": [
        "TCP",
        "UDP"
      ],
      "default": "TCP"
    },
    "target": {
      "type": "object",
      "required": [
        "host",
        "port"
      ],
      "properties": {
        "host": {
          "type": "string",
          "minLength": 1,
          "maxLength": 64
        },
        "port": {
          "type": "integer",
          "minimum": 1,
          "maximum": 65535
        }
      }
    },
    "listen": {
      "type": "object",
      "properties": {
        "port": {
          "type": "integer",
          "minimum": 1,
          "maximum": 65535
        },
        "address": {
          "type": "string",
          "maxLength": 64
        }
      }
    },
    "udp": {
      "type": "object",
      "properties": {
        "mode": {
          "type": "string",
          "enum": [
            "OneWay",
            "RequestReply"
          ],
          "default": "OneWay"
        },
        "replyTimeoutSeconds": {
          "type": "integer",
          "minimum": 1,
          "maximum": 300
        }
      }
    },
    "nodeSelector": {
      "type": "object",
      "maxProperties": 64,
      "additionalProperties": {
        "type": "string",
        "maxLength": 63,
        "pattern": "^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
      }
    },
    "consumers": {
      "type": "object",
      "properties": {
        "namespaces": {
          "type": "array",
          "items": {
            "type": "string",
            "minLength": 1,
            "maxLength": 63,
            "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
          }
        },
        "namespaceSelector": {
          "type": "object",
          "properties": {
            "matchLabels": {
              "type": "object",
              "maxProperties": 64,
              "additionalProperties": {
                "type": "string",
                "maxLength": 63,
                "pattern": "^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
              }
            },
            "matchExpressions": {
              "type": "array",
              "items": {
                "type": "object",
                "required": [
                  "key",
                  "operator"
                ],
                "properties": {
                  "key": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 317,
                    "pattern": "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$"
                  },
                  "operator": {
                    "type": "string",
                    "enum": [
                      "In",
                      "NotIn",
                      "Exists",
                      "DoesNotExist"
                    ]
                  },
                  "values": {
                    "type": "array",
                    "items": {
                      "type": "string",
                      "maxLength": 63,
                      "pattern": "^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
                    }
                  }
                }
              }
            }
          }
        }
      }
    },
    "sidecar": {
      "type": "object",
      "properties": {
        "resources": {
          "type": "object",
          "properties": {
            "requests": {
              "type": "object",
              "maxProperties": 3,
              "additionalProperties": {
                "anyOf": [
                  {
                    "type": "integer"
                  },
                  {
                    "type": "string"
                  }
                ],
                "pattern": "^[+-]?(\\d+(\\.\\d*)?|\\.\\d+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\\d+)?$"
              }
            },
            "limits": {
              "type": "object",
              "maxProperties": 3,
              "additionalProperties": {
                "anyOf": [
                  {
                    "type": "integer"
                  },
                  {
                    "type": "string"
                  }
                ],
                "pattern": "^[+-]?(\\d+(\\.\\d*)?|\\.\\d+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\\d+)?$"
              }
            }
          }
        }
      }
    }
  }
};
