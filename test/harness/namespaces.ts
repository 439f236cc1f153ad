// The namespaces the admission suites run in, with the labels the API server gives every namespace
// (kubernetes.io/metadata.name) and one team label for namespaceSelector cases.
export const NAMESPACE_LABELS: Record<string, Record<string, string>> = {
  monitoring: { 'kubernetes.io/metadata.name': 'monitoring' },
  observability: { 'kubernetes.io/metadata.name': 'observability', team: 'observability' },
  apps: { 'kubernetes.io/metadata.name': 'apps' },
};
