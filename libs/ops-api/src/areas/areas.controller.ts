import {
  Body,
  Controller,
  Get,
  HttpStatus,
  Inject,
  NotFoundException,
  Param,
  Patch,
  Post,
  Query,
} from '@nestjs/common';
import { ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { type AreaDetailBody, areaDetailBody, type AreaListBody, areaListBody } from '@ioc/contracts';
import type { Area, Principal } from '@ioc/contracts';
import { AuditedRequest, AuditTrail } from '../audit/audit-trail.service';
import { type AuthenticatedRequest, CurrentPrincipal, Roles } from '../common/auth.decorators';
import { ApiAnswers, ApiBodyFrom } from '../common/openapi-zod';
import { ScopeService, UnscopedOnly } from '../common/scope.service';
import { NoParameters, ZodValidationPipe } from '../common/zod-validation.pipe';
import {
  type CreateAreaBody,
  createAreaBody,
  type PatchAreaBody,
  patchAreaBody,
} from '../devices/device-bodies';
import { RegistryWrites } from '../devices/registry-writes.service';
import type { RegistryReader } from '../registry-port';
import { DEVICE_REGISTRY } from '../tokens';

@ApiTags('areas')
@Controller('api/v1/areas')
export class AreasController {
  constructor(
    @Inject(DEVICE_REGISTRY) private readonly registry: RegistryReader,
    private readonly writes: RegistryWrites,
    private readonly audit: AuditTrail,
    private readonly scope: ScopeService,
  ) {}

  @Post()
  @Roles('admin')
  @UnscopedOnly('registry-writes')
  @ApiOperation({ summary: 'Creates an area under a parent (the tree has one root)' })
  @ApiBodyFrom(createAreaBody)
  @ApiAnswers({
    body: areaDetailBody,
    status: HttpStatus.CREATED,
    errors: [
      HttpStatus.BAD_REQUEST,
      HttpStatus.FORBIDDEN,
      HttpStatus.NOT_FOUND,
      HttpStatus.CONFLICT,
      HttpStatus.SERVICE_UNAVAILABLE,
    ],
  })
  async create(
    @Body(new ZodValidationPipe(createAreaBody, 'field')) body: CreateAreaBody,
    @Query(NoParameters) _query: object,
    @AuditedRequest() request: AuthenticatedRequest,
  ): Promise<AreaDetailBody> {
    const created = await this.writes.write((repository) => repository.createArea(body));
    await this.audit.record(request, {
      action: 'area.create',
      entity: { type: 'area', id: created.id },
      after: created,
    });
    return this.detail(created);
  }

  @Patch(':id')
  @Roles('admin')
  @UnscopedOnly('registry-writes')
  @ApiOperation({
    summary: 'Renames an area or moves it under another parent; its devices and sub-areas follow',
    description: 'A move under the area itself or one of its own sub-areas is a 409.',
  })
  @ApiParam({ name: 'id', description: 'area id', schema: { type: 'string' } })
  @ApiBodyFrom(patchAreaBody)
  @ApiAnswers({
    body: areaDetailBody,
    errors: [
      HttpStatus.BAD_REQUEST,
      HttpStatus.FORBIDDEN,
      HttpStatus.NOT_FOUND,
      HttpStatus.CONFLICT,
      HttpStatus.SERVICE_UNAVAILABLE,
    ],
  })
  async update(
    @Param('id') id: string,
    @Body(new ZodValidationPipe(patchAreaBody, 'field')) body: PatchAreaBody,
    @Query(NoParameters) _query: object,
    @AuditedRequest() request: AuthenticatedRequest,
  ): Promise<AreaDetailBody> {
    let before: Area | undefined;
    const after = await this.writes.write(async (repository) => {
      before = await repository.getArea(id);
      return repository.updateArea(id, body);
    });
    await this.audit.record(request, { action: 'area.update', entity: { type: 'area', id }, before, after });
    return this.detail(after);
  }

  /** A written area as GET answers it (the in-memory registry was refreshed after the write). */
  private detail(area: Area): AreaDetailBody {
    let path: string[] = [];
    try {
      path = [...this.registry.areaPath(area.id)];
    } catch {
      // The refresh failed (logged by RegistrySync): answer what was stored.
    }
    return { ...area, path };
  }

  @Get()
  @ApiOperation({
    summary: 'The administrative area tree as a flat list (parentId links)',
    description:
      "A principal limited to areas gets its scope's areas and their sub-areas only (the top ones keep their parentId, which names an area outside the scope).",
  })
  @ApiAnswers({ body: areaListBody, errors: [HttpStatus.BAD_REQUEST] })
  list(@Query(NoParameters) _query: object, @CurrentPrincipal() principal: Principal): AreaListBody {
    return this.scope.filterAreas(principal, this.registry.listAreas());
  }

  @Get(':id')
  @ApiOperation({ summary: 'One area with its path from the root' })
  @ApiParam({ name: 'id', description: 'area id', schema: { type: 'string' } })
  @ApiAnswers({
    body: areaDetailBody,
    errors: [HttpStatus.BAD_REQUEST, HttpStatus.FORBIDDEN, HttpStatus.NOT_FOUND],
  })
  get(
    @Param('id') id: string,
    @Query(NoParameters) _query: object,
    @CurrentPrincipal() principal: Principal,
  ): AreaDetailBody {
    const area = this.registry.getArea(id);
    if (!area)
      throw new NotFoundException({
        statusCode: 404,
        error: 'Not Found',
        message: `No area "${id.slice(0, 64)}"`,
      });
    this.scope.assertArea(principal, id);
    return { ...area, path: [...this.registry.areaPath(id)] };
  }
}
