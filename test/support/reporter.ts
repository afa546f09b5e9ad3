/**
 * Collects what staunch reports through `setErrorReporter` during one test, and puts the previous
 * reporter back when that test finishes (call it inside a test or a `beforeEach`).
 */
import { onTestFinished } from 'vitest';
import { setErrorReporter } from '../../src/index.js';

export interface Report {
  readonly error: unknown;
  readonly source: string;
}

export function collectReports(): Report[] {
  const reports: Report[] = [];
  const previous = setErrorReporter((error, source) => {
    reports.push({ error, source });
  });
  onTestFinished(() => {
    setErrorReporter(previous);
  });
  return reports;
}
