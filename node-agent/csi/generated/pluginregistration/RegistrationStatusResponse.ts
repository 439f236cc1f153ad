// Generated from node-agent/csi/*.proto by proto-loader-gen-types (npm run gen:proto). Do not edit.
// Original file: node-agent/csi/registration.proto


export interface RegistrationStatusResponse {
}

export interface RegistrationStatusResponse__Output {
}
