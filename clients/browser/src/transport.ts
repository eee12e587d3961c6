// The send paths. A string body makes both fetch and sendBeacon send
// `text/plain;charset=UTF-8`: a CORS-safelisted type, so no preflight goes before it.

/**
 * While the page lives: a POST whose answer is read. True when the gateway took the batch or
 * refused it for good (a 4xx other than 429: sending it again would not help); false to
 * retry (no answer, a 5xx, a 429). `keepalive` lets it finish if the page goes meanwhile.
 */
export const post = (url: string, events: object[]): Promise<boolean> =>
  fetch(url, { method: 'POST', body: JSON.stringify(events), keepalive: true }).then(
    (response) => response.status < 500 && response.status != 429,
    () => false,
  );

/**
 * As the page goes: `sendBeacon`, which the browser sends after the page is gone but which
 * only says whether it queued the beacon (false past its 64 KiB quota); else a keepalive
 * fetch, which has the same quota; else one `<img>` pixel per event, the whole event as
 * base64 JSON in `$d`, which the browser may cancel with the page. None says whether the
 * events arrived, and nothing is retried.
 */
export const leave = (url: string, events: object[]): void => {
  const body = JSON.stringify(events);
  if (navigator.sendBeacon?.(url, body)) return;
  const pixels = () => {
    for (const event of events) {
      new Image().src = `${url}${url.includes('?') ? '&' : '?'}$d=${encodeURIComponent(btoa(unescape(encodeURIComponent(JSON.stringify(event)))))}`;
    }
  };
  if (typeof fetch == 'function') fetch(url, { method: 'POST', body, keepalive: true }).catch(pixels);
  else pixels();
};
