// The append-only, hash-chained audit log (see README.md).
export {};
