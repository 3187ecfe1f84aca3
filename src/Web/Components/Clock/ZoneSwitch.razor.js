// The browser's IANA time zone ("Europe/Berlin"), for the viewer's clock.
export function zone() {
    return Intl.DateTimeFormat().resolvedOptions().timeZone ?? null;
}
