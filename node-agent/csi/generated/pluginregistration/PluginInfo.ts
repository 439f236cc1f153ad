// Generated from node-agent/csi/*.proto by proto-loader-gen-types (npm run gen:proto). Do not edit.
// Original file: node-agent/csi/registration.proto


export interface PluginInfo {
  'type'?: (string);
  'name'?: (string);
  'endpoint'?: (string);
  'supported_versions'?: (string)[];
}

export interface PluginInfo__Output {
  'type'?: (string);
  'name'?: (string);
  'endpoint'?: (string);
  'supported_versions': (string)[];
}
