import { describe, expect, it } from '@jest/globals';
import { EXTENSION_ID, RESOURCE_MIME_TYPE, RESOURCE_URI_META_KEY } from '@modelcontextprotocol/ext-apps/server';
import {
  APPS_EXTENSION_ID,
  APPS_RESOURCE_MIME_TYPE,
  APPS_RESOURCE_URI_META_KEY,
  gatewayAppsCapability,
  renameAppResources,
} from '../../../server/gateway/apps-extension.js';

describe('MCP Apps extension', () => {
  it('uses the names of @modelcontextprotocol/ext-apps', () => {
    expect(APPS_EXTENSION_ID).toBe(EXTENSION_ID);
    expect(APPS_RESOURCE_MIME_TYPE).toBe(RESOURCE_MIME_TYPE);
    expect(APPS_RESOURCE_URI_META_KEY).toBe(RESOURCE_URI_META_KEY);
    expect(gatewayAppsCapability()).toEqual({ [EXTENSION_ID]: { mimeTypes: [RESOURCE_MIME_TYPE] } });
  });

  it("renames the app resource a tool's _meta names, in both forms, and leaves everything else as it was", () => {
    const rename = (uri: string) => uri.replace('ui://', 'ui://fx/');
    const meta = {
      ui: { resourceUri: 'ui://card/view.html', visibility: ['model', 'app'] },
      [RESOURCE_URI_META_KEY]: 'ui://card/view.html',
      other: 1,
    };
    expect(renameAppResources(meta, rename)).toEqual({
      ui: { resourceUri: 'ui://fx/card/view.html', visibility: ['model', 'app'] },
      [RESOURCE_URI_META_KEY]: 'ui://fx/card/view.html',
      other: 1,
    });
    expect(meta.ui.resourceUri).toBe('ui://card/view.html');
    expect(renameAppResources({ [RESOURCE_URI_META_KEY]: 'ui://old' }, rename)).toEqual({ [RESOURCE_URI_META_KEY]: 'ui://fx/old' });
    const plain = { ui: { visibility: ['app'] }, note: 'x' };
    expect(renameAppResources(plain, rename)).toBe(plain);
  });
});
