/** Node-only globals the check names explicitly (any other undeclared global is reported too). */
export declare const NODE_GLOBALS: readonly string[];
/** Bundles `entry` for the browser; returns the Node built-ins, packages and Node-only globals it uses. */
export declare function checkRuntimeNeutral(entry: string): Promise<string[]>;
