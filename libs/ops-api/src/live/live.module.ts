import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { AuthModule } from '../auth/auth.module';
import { InternalBusRepository } from './internal-bus.repository';
import { LiveGateway } from './live.gateway';

/**
 * The API's connection to the broker's internal topics and the socket.io `/live` feed built on
 * it. Exports the bus client for the modules that read ingest statistics and broker state.
 */
@Module({
  imports: [AuthModule, AuditModule],
  providers: [InternalBusRepository, LiveGateway],
  exports: [InternalBusRepository],
})
export class LiveModule {}
