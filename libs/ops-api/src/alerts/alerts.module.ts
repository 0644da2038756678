import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { LiveModule } from '../live/live.module';
import { AlertingService } from './alerting.service';
import { AlertsController } from './alerts.controller';
import { DryRunService } from './dry-run.service';
import { RulesController } from './rules.controller';
import { SilencesController } from './silences.controller';

/**
 * Threshold alerts over REST: `/api/v1/rules` (versioned, audited), `/api/v1/alerts` (scoped
 * reads, CSV, acknowledge, resolve), `/api/v1/silences`. Alert events reach `/live` through
 * LiveModule (the bus's INTERNAL_ALERTS_TOPIC and this node's own people's steps).
 */
@Module({
  imports: [AuditModule, LiveModule],
  controllers: [RulesController, AlertsController, SilencesController],
  providers: [AlertingService, DryRunService],
})
export class AlertsModule {}
