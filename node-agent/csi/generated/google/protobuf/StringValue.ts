// Generated from node-agent/csi/*.proto by proto-loader-gen-types (npm run gen:proto). Do not edit.
// Original file: null


export interface StringValue {
  'value'?: (string);
}

export interface StringValue__Output {
  'value'?: (string);
}
