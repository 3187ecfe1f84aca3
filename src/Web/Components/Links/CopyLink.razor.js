// Copies a link to the clipboard; false when the browser refuses (no permission, not a secure context).
export async function copy(text) {
    try {
        await navigator.clipboard.writeText(text);
        return true;
    } catch {
        return false;
    }
}
