// autocannon ships no types; bench/webhook/load.ts declares the fields of the result it reads.
declare module 'autocannon' {
  export default function autocannon(options: object): Promise<unknown>;
}
