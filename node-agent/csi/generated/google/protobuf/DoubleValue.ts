// Generated from node-agent/csi/*.proto by proto-loader-gen-types (npm run gen:proto). Do not edit.
// Original file: null


export interface DoubleValue {
  'value'?: (number | string);
}

export interface DoubleValue__Output {
  'value'?: (number);
}
