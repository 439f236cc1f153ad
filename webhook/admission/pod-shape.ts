// The few parts of a raw pod the injector reads or writes. Everything else is carried along untouched
// because the injector works on the JSON the API server sent (copy-on-write of what it changes, see
// pod.ts), never on a typed model.

interface RawContainerPort {
  containerPort?: number;
  protocol?: string;
  name?: string;
  [k: string]: unknown;
}

export interface RawContainer {
  name?: string;
  ports?: RawContainerPort[];
  restartPolicy?: string;
  [k: string]: unknown;
}

export interface RawNodeSelectorRequirement {
  key: string;
  operator: string;
  values?: string[];
}

interface RawNodeSelectorTerm {
  matchExpressions?: RawNodeSelectorRequirement[];
  matchFields?: RawNodeSelectorRequirement[];
  [k: string]: unknown;
}

export interface RawPodSpec {
  containers?: RawContainer[];
  initContainers?: RawContainer[];
  volumes?: { name?: string; [k: string]: unknown }[];
  hostNetwork?: boolean;
  affinity?: {
    nodeAffinity?: {
      requiredDuringSchedulingIgnoredDuringExecution?: {
        nodeSelectorTerms?: RawNodeSelectorTerm[];
        [k: string]: unknown;
      };
      [k: string]: unknown;
    };
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

export interface RawPod {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    generateName?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [k: string]: unknown;
  };
  spec?: RawPodSpec;
  [k: string]: unknown;
}

export { isObject } from '../../lib/object.js';
