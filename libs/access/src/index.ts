// People and agencies: accounts, login sessions, agencies and their API keys (see README.md).
export {};
