// The envtest-like harness: a real etcd + kube-apiserver, our real manifests, our real controller; and a
// real node (containerd + kubelet) running the image the Dockerfile builds.
export * from './binaries.js';
export * from './cleanup.js';
export * from './client.js';
export * from './controlplane.js';
export * from './controller.js';
export * from './manifests.js';
export * from './ports.js';
export * from './processes.js';
export * from './wait.js';
export * from './webhooks.js';
export * from './image.js';
export * from './node.js';
export * from './node-config.js';
export * from './node-host.js';
export * from './node-cluster.js';
export * from './node-static-pod.js';
export * from './node-sweep.js';
