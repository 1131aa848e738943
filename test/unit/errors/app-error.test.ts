import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { APP_ERROR_STATUS, AppError, AppErrorCode } from '../../../server/errors/app-error.js';

describe('the error catalogue', () => {
  const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');

  it.each(Object.values(AppErrorCode))('%s is documented in docs/errors.md with its status', (code) => {
    const row = doc.split('\n').find((line) => line.startsWith(`| \`${code}\` |`));
    expect(row).toBeDefined();
    expect(row).toContain(`| ${APP_ERROR_STATUS[code]} |`);
  });

  it('client mistakes are 4xx; only capacity, unavailable dependencies, a shutdown and internal faults are 5xx', () => {
    const fiveHundreds = Object.values(AppErrorCode).filter((code) => new AppError(code, 'x').status >= 500);
    expect(fiveHundreds.sort()).toEqual(
      [AppErrorCode.Internal, AppErrorCode.ServiceUnavailable, AppErrorCode.ShuttingDown, AppErrorCode.TooManySessions].sort(),
    );
  });
});
