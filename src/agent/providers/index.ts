import type { ProviderName } from '../../api/observation.js';
import type { MetadataProvider } from './provider.js';
import { AlibabaMetadataClient, type AlibabaAccessMode } from './alibaba/client.js';
import { AzureMetadataClient } from './azure/client.js';
import type { ClientOptions } from './call-options.js';
import { detectProvider } from './detect.js';

export interface ProviderChoice extends ClientOptions {
  provider: ProviderName | 'auto';
  alibabaMode?: AlibabaAccessMode;
  alibabaTags?: boolean;
  probeTimeoutMs?: number;
  signal?: AbortSignal;
}

/** The metadata-service client for this VM: the one asked for, or the one that answers. */
export async function createProvider(choice: ProviderChoice): Promise<MetadataProvider> {
  const name =
    choice.provider === 'auto'
      ? await detectProvider({
          endpoint: choice.endpoint,
          budget: choice.budget,
          clock: choice.clock,
          random: choice.random,
          logger: choice.logger,
          probeTimeoutMs: choice.probeTimeoutMs,
          signal: choice.signal,
        })
      : choice.provider;
  if (choice.provider === 'auto') choice.logger.info('detected metadata service', { provider: name });
  if (name === 'azure') return new AzureMetadataClient(choice);
  return new AlibabaMetadataClient({ ...choice, mode: choice.alibabaMode, readTags: choice.alibabaTags });
}

export type { MetadataProvider } from './provider.js';
export { AzureMetadataClient } from './azure/client.js';
export { AlibabaMetadataClient } from './alibaba/client.js';
