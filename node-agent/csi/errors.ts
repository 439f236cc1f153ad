// A CSI call's failure: a gRPC status code and a message a user can act on (the kubelet shows it in
// the pod's events). Matched by class, never by message.
import { status } from '@grpc/grpc-js';

export { status };

export class CsiError extends Error {
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
    this.name = 'CsiError';
  }
}

export const invalid = (field: string, message: string): CsiError =>
  new CsiError(status.INVALID_ARGUMENT, `${field}: ${message}`);
