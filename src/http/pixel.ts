/** The smallest transparent 1×1 GIF (43 bytes), answered to every pixel request. */
export const TRANSPARENT_GIF = Buffer.from('R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==', 'base64');

/** Every beacon answer is private to its request: a cached pixel would record nothing. */
export const PIXEL_CACHE_CONTROL = 'no-store, max-age=0';
