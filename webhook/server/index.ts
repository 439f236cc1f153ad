export * from './app.js';
export * from './server.js';
export * from './certwatcher.js';
export * from './cert-source.js';
export * from './handler.js';
