/**
 * What the gateway knows of the MCP Apps extension (`@modelcontextprotocol/ext-apps`): a tool names the HTML app a
 * host renders for it with `_meta.ui.resourceUri` (and the older `_meta["ui/resourceUri"]`), a `ui://` resource of
 * MIME type `text/html;profile=mcp-app`, and clients declare support under `capabilities.extensions`. The values are
 * those of the package (`EXTENSION_ID`, `RESOURCE_MIME_TYPE`, `RESOURCE_URI_META_KEY`; a unit test holds them equal),
 * written here because the package is not a dependency of the server.
 */

/** Key of the extension in `capabilities.extensions` (ext-apps `EXTENSION_ID`). */
export const APPS_EXTENSION_ID = 'io.modelcontextprotocol/ui';

/** MIME type of an app's HTML resource (ext-apps `RESOURCE_MIME_TYPE`). */
export const APPS_RESOURCE_MIME_TYPE = 'text/html;profile=mcp-app';

/** The older, flat `_meta` key of a tool's app resource (ext-apps `RESOURCE_URI_META_KEY`); hosts read both. */
export const APPS_RESOURCE_URI_META_KEY = 'ui/resourceUri';

/**
 * The extension support the gateway declares to a shared upstream. One upstream process serves every client, so it
 * cannot be told each client's own support; the gateway relays apps (their `ui://` resources and the tools' `_meta`)
 * to any client, and a host without Apps support ignores a tool's `_meta.ui` and shows its content as usual.
 */
export function gatewayAppsCapability(): Record<string, { mimeTypes: string[] }> {
  return { [APPS_EXTENSION_ID]: { mimeTypes: [APPS_RESOURCE_MIME_TYPE] } };
}

/**
 * A tool's `_meta` with every app resource URI it names (`ui.resourceUri` and the flat `ui/resourceUri`) passed
 * through `rename`; the same object when it names none, so tools without an app cost nothing.
 */
export function renameAppResources(meta: Record<string, unknown>, rename: (uri: string) => string): Record<string, unknown> {
  const ui = meta.ui;
  const nested =
    typeof ui === 'object' && ui !== null && typeof (ui as { resourceUri?: unknown }).resourceUri === 'string'
      ? (ui as { resourceUri: string }).resourceUri
      : undefined;
  const flat = meta[APPS_RESOURCE_URI_META_KEY];
  if (nested === undefined && typeof flat !== 'string') return meta;
  return {
    ...meta,
    ...(nested !== undefined ? { ui: { ...(ui as object), resourceUri: rename(nested) } } : {}),
    ...(typeof flat === 'string' ? { [APPS_RESOURCE_URI_META_KEY]: rename(flat) } : {}),
  };
}
