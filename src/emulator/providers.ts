// Provider name → its data model and its metadata service.

import type { ProviderName } from '../api/observation.js';
import { alibabaModel } from './alibaba/model.js';
import { createAlibabaService } from './alibaba/service.js';
import { azureModel } from './azure/model.js';
import { createAzureService } from './azure/service.js';
import type { ProviderModel } from './provider-model.js';
import type { MetadataService } from './service.js';

export function modelFor(provider: ProviderName): ProviderModel {
  return provider === 'azure' ? azureModel : alibabaModel;
}

export function serviceFor(provider: ProviderName): MetadataService {
  return provider === 'azure' ? createAzureService() : createAlibabaService();
}
