import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { HistoryModule } from '../history/history.module';
import { LiveModule } from '../live/live.module';
import { CredentialsController } from './credentials.controller';
import { DevicesController } from './devices.controller';
import { DevicesService } from './devices.service';
import { ImportJobs } from './import-jobs.service';
import { RegistryWrites } from './registry-writes.service';

/**
 * `/api/v1/devices`: the list, one device, its latest values and its history (read from the
 * in-memory registry and the store); provisioning — create, update, suspend, resume, retire,
 * import, export — and credentials (written to the registry database through RegistryWrites,
 * exported for the areas module).
 */
@Module({
  imports: [HistoryModule, LiveModule, AuditModule],
  controllers: [DevicesController, CredentialsController],
  providers: [DevicesService, RegistryWrites, ImportJobs],
  exports: [RegistryWrites],
})
export class DevicesModule {}
