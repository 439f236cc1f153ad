// The node contract: what the controller's reconcile and the node agent (and the CSI plugin) agree on
// about the node's files — paths and names, the relay file's content, which file defines each relay
// (one reading of the folder for the agent and the CSI plugin), the agent status file's schema and
// staleness rule, and how those files are written and read. Both sides import it; neither owns it:
// webhook/ never imports node-agent/ and node-agent/ never imports webhook/ (ESLint holds
// docs/architecture.md's table).
// docs/architecture.md describes the node layout.
export * from './layout.js';
export * from './relay-file.js';
export * from './relay-folder.js';
export * from './status.js';
export * from './volumes.js';
