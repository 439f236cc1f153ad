// Generated from node-agent/csi/*.proto by proto-loader-gen-types (npm run gen:proto). Do not edit.
// Original file: null


export interface UInt32Value {
  'value'?: (number);
}

export interface UInt32Value__Output {
  'value'?: (number);
}
