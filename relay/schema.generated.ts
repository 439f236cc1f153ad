// Generated from manifests/crd/relays.socat.io.yaml by scripts/gen-relay-schema.ts — do not edit.
import type { StructuralSchema } from './structure.js';

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
