// Generated from node-agent/csi/*.proto by proto-loader-gen-types (npm run gen:proto). Do not edit.
// Original file: null


export interface BoolValue {
  'value'?: (boolean);
}

export interface BoolValue__Output {
  'value'?: (boolean);
}
