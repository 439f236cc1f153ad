export * from './types.js';
export * from './constants.js';
export * from './names.js';
export * from './loopback.js';
export * from './validate.js';
export * from './socat.js';
export * from './selector.js';
export * from './load.js';
