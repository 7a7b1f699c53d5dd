// Realistic default metadata for an ACK node in cn-hangzhou, as items under /latest/meta-data/
// (seeds 002 and 003, "インスタンスメタデータ項目" / "執行個體中繼資料列表"). The secret-bearing
// items (ram/security-credentials, public-keys, and user-data next to meta-data) carry fake values
// so tests can prove a client never reads them.

import type { Tag } from '../../api/observation.js';
import { alnumFrom, guidFrom, hexFrom } from '../fake-ids.js';

export const ALIBABA_REGION = 'cn-hangzhou';
const ZONES = ['cn-hangzhou-h', 'cn-hangzhou-i', 'cn-hangzhou-j'];
const OWNER = '1609512345678901';
const VPC_ID = 'vpc-bp1kq2m7x3n9w4r8t6y0z';
const ROLE = 'KubernetesWorkerRole-c5f3a0e1-nodemeta';

/** ACK names nodes `<region>.<private IP>`. */
export function defaultAlibabaVmName(index: number): string {
  return `${ALIBABA_REGION}.192.168.${Math.floor(index / 240)}.${10 + (index % 240)}`;
}

export const DEFAULT_ALIBABA_TAGS: readonly Tag[] = [
  { name: 'ack.aliyun.com', value: 'c5f3a0e1b2d34e5f8a9b0c1d2e3f4a5b6' },
  { name: 'ack.alibabacloud.com/nodepool-id', value: 'np1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6' },
  { name: 'team', value: 'payments' },
  { name: 'maintenance-window', value: 'sat 02:00-04:00;sun 02:00-04:00' },
];

/** Fake temporary RAM credentials: the kind of item a client must never read. */
export function fakeRamCredentials(name: string): string {
  return JSON.stringify(
    {
      AccessKeyId: `STS.NT${alnumFrom(`ak:${name}`, 22)}`,
      AccessKeySecret: `FAKE-SECRET-${alnumFrom(`sk:${name}`, 30)}`,
      Expiration: '2026-11-22T16:00:00Z',
      SecurityToken: `CAIS-FAKE-${alnumFrom(`token:${name}`, 60)}`,
      LastUpdated: '2026-11-22T10:00:00Z',
      Code: 'Success',
    },
    null,
    2,
  );
}

export function fakeUserData(name: string): string {
  return `#!/bin/bash\n# nodemeta emulator: fake user-data for ${name}\nexport BOOTSTRAP_TOKEN=fake-user-data-secret-${alnumFrom(`ud:${name}`, 16)}\n`;
}

export function defaultAlibabaItems(name: string, fallbackIndex: number): Record<string, unknown> {
  const ipMatch = /^[a-z0-9-]+\.(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(name);
  const ip = ipMatch ? `${ipMatch[1]}.${ipMatch[2]}.${ipMatch[3]}.${ipMatch[4]}` : `192.168.0.${10 + (fallbackIndex % 240)}`;
  const spread = ipMatch ? Number(ipMatch[4]) - 10 : fallbackIndex;
  const zone = ZONES[((spread % ZONES.length) + ZONES.length) % ZONES.length] ?? 'cn-hangzhou-h';
  const idSuffix = alnumFrom(`instance:${name}`, 17);
  const mac = `00:16:3e:${hexFrom(`mac:${name}`, 6).match(/../g)?.join(':') ?? '00:00:00'}`;
  const vswitch = `vsw-bp1${alnumFrom(`vsw:${zone}`, 17)}`;
  const diskSerial = `bp1${alnumFrom(`disk:${name}`, 17)}`;
  const nic = `network/interfaces/macs/${mac}`;
  return {
    'dns-conf/nameservers': ['100.100.2.136', '100.100.2.138'],
    hostname: `iZbp1${idSuffix}Z`,
    'image-id': 'aliyun_3_x64_20G_container_optimized_alibase_20241106.vhd',
    'instance-id': `i-bp1${idSuffix}`,
    'instance/instance-type': 'ecs.g7.xlarge',
    'instance/instance-name': `worker-k8s-for-cs-c5f3a0e1b2-${alnumFrom(`name:${name}`, 5)}`,
    'instance/max-netbw-egress': '3072000',
    'instance/virtualization-solution': 'ECS Virt',
    'instance/virtualization-solution-version': '2.0',
    mac,
    'network-type': 'vpc',
    [`${nic}/network-interface-id`]: `eni-bp1${alnumFrom(`eni:${name}`, 17)}`,
    [`${nic}/netmask`]: '255.255.255.0',
    [`${nic}/vswitch-cidr-block`]: '192.168.0.0/24',
    [`${nic}/vpc-cidr-block`]: '192.168.0.0/16',
    [`${nic}/private-ipv4s`]: [ip],
    [`${nic}/vswitch-id`]: vswitch,
    [`${nic}/vpc-id`]: VPC_ID,
    [`${nic}/primary-ip-address`]: ip,
    [`${nic}/gateway`]: '192.168.0.253',
    [`disks/${diskSerial}/id`]: `d-${diskSerial}`,
    [`disks/${diskSerial}/name`]: `${name}-system-disk`,
    'private-ipv4': ip,
    'ntp-conf/ntp-servers': ['ntp.cloud.aliyuncs.com', 'ntp7.cloud.aliyuncs.com', 'ntp8.cloud.aliyuncs.com'],
    'owner-account-id': OWNER,
    'region-id': ALIBABA_REGION,
    'zone-id': zone,
    'public-keys/skp-bp1nodemeta0000000/openssh-key': `ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQD${hexFrom(`key:${name}`, 40)}FAKE nodemeta-emulator-secret`,
    'serial-number': guidFrom(`serial:${name}`),
    'source-address': 'http://mirrors.cloud.aliyuncs.com',
    'kms-server': 'kms.cloud.aliyuncs.com',
    'wsus-server/wu-server': 'http://update.cloud.aliyuncs.com',
    'wsus-server/wu-status-server': 'http://update.cloud.aliyuncs.com',
    'vpc-id': VPC_ID,
    'vpc-cidr-block': '192.168.0.0/16',
    'vswitch-cidr-block': '192.168.0.0/24',
    'vswitch-id': vswitch,
    [`ram/security-credentials/${ROLE}`]: fakeRamCredentials(name),
  };
}
