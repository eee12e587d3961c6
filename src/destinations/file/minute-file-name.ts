import { join } from 'node:path';

// Where a minute file lives, from the receive time (UTC) of its lines:
// `<YYYY-MM-DD>/<HH-mm>.ndjson.gz`. When the file destination ships closed files to S3, a file
// is closed for good once its minute is over plus a grace period; lines of that minute that
// arrive later (replayed from the spool) go to a late file of their own,
// `<YYYY-MM-DD>/<HH-mm>.<YYYYMMDDTHHmmZ>.ndjson.gz`, stamped with the minute it is written in.
// A late file is written only during that minute and closes in turn after the grace, so the
// name alone tells when a file is closed, at start as at run time, and no shipped file is
// ever appended to again.

export const FILE_SUFFIX = '.ndjson.gz';
export const MINUTE_MS = 60_000;

/** A minute file by its minutes since the epoch: the receive minute of its lines, and the minute a late file was written in. */
export interface MinuteFileId {
  minute: number;
  lateMinute?: number;
}

const LATE_STAMP = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})Z$/;
const DATE_DIR = /^(\d{4})-(\d{2})-(\d{2})$/;
const FILE_NAME = /^(\d{2})-(\d{2})(?:\.(\d{8}T\d{4}Z))?\.ndjson\.gz$/;

/** `20261129T1803Z`: a minute as S3 keys and late file names spell it. */
export function minuteStamp(minute: number): string {
  const iso = new Date(minute * MINUTE_MS).toISOString();
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}Z`;
}

/** `<YYYY-MM-DD>/<HH-mm>[.<late stamp>].ndjson.gz`, relative to a topic's folder. */
export function minuteFilePath(id: MinuteFileId): string {
  const iso = new Date(id.minute * MINUTE_MS).toISOString();
  const late = id.lateMinute === undefined ? '' : `.${minuteStamp(id.lateMinute)}`;
  return join(iso.slice(0, 10), `${iso.slice(11, 13)}-${iso.slice(14, 16)}${late}${FILE_SUFFIX}`);
}

/** The id of a file named by minuteFilePath in folder `dateDir`; undefined for any other name. */
export function parseMinuteFile(dateDir: string, name: string): MinuteFileId | undefined {
  const date = DATE_DIR.exec(dateDir);
  const file = FILE_NAME.exec(name);
  if (!date || !file) return undefined;
  const ms = Date.UTC(Number(date[1]), Number(date[2]) - 1, Number(date[3]), Number(file[1]), Number(file[2]));
  // Date.UTC rolls 25:61 over into the next day; such a name was not written here.
  if (Number.isNaN(ms) || minuteFilePath({ minute: ms / MINUTE_MS }).split('/')[0] !== dateDir || Number(file[1]) > 23 || Number(file[2]) > 59) return undefined;
  const id: MinuteFileId = { minute: ms / MINUTE_MS };
  if (file[3] !== undefined) {
    const late = LATE_STAMP.exec(file[3])!;
    const lateMs = Date.UTC(Number(late[1]), Number(late[2]) - 1, Number(late[3]), Number(late[4]), Number(late[5]));
    if (Number.isNaN(lateMs) || minuteStamp(lateMs / MINUTE_MS) !== file[3]) return undefined;
    id.lateMinute = lateMs / MINUTE_MS;
  }
  return id;
}

/** When a file stops taking lines for good: the end of the minute it is written in, plus the grace. */
export function closesAtMs(id: MinuteFileId, graceMs: number): number {
  return ((id.lateMinute ?? id.minute) + 1) * MINUTE_MS + graceMs;
}
