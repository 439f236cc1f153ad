// Generated from node-agent/csi/*.proto by proto-loader-gen-types (npm run gen:proto). Do not edit.
// Original file: node-agent/csi/registration.proto


export interface RegistrationStatus {
  'plugin_registered'?: (boolean);
  'error'?: (string);
}

export interface RegistrationStatus__Output {
  'plugin_registered'?: (boolean);
  'error'?: (string);
}
