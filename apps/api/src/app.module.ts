import { type DynamicModule, Module } from '@nestjs/common';
import { OpsApiModule, type OpsApiModuleOptions } from '@ioc/ops-api';

@Module({})
export class AppModule {
  static register(options: OpsApiModuleOptions): DynamicModule {
    return { module: AppModule, imports: [OpsApiModule.register(options)] };
  }
}
