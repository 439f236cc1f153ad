// Generated from node-agent/csi/*.proto by proto-loader-gen-types (npm run gen:proto). Do not edit.
// Original file: null


export interface FloatValue {
  'value'?: (number | string);
}

export interface FloatValue__Output {
  'value'?: (number);
}
