// Generated from node-agent/csi/*.proto by proto-loader-gen-types (npm run gen:proto). Do not edit.
// Original file: node-agent/csi/registration.proto


export interface InfoRequest {
}

export interface InfoRequest__Output {
}
