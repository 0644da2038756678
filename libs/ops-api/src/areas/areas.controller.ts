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
import type { Area } from '@ioc/contracts';
import { Roles } from '../common/auth.decorators';
import { ApiAnswers, ApiBodyFrom } from '../common/openapi-zod';
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
  ) {}

  @Post()
  @Roles('admin')
  @ApiOperation({ summary: 'Creates an area under a parent (the tree has one root)' })
  @ApiBodyFrom(createAreaBody)
  @ApiAnswers({
    body: areaDetailBody,
    status: HttpStatus.CREATED,
    errors: [
      HttpStatus.BAD_REQUEST,
      HttpStatus.NOT_FOUND,
      HttpStatus.CONFLICT,
      HttpStatus.SERVICE_UNAVAILABLE,
    ],
  })
  async create(
    @Body(new ZodValidationPipe(createAreaBody, 'field')) body: CreateAreaBody,
    @Query(NoParameters) _query: object,
  ): Promise<AreaDetailBody> {
    return this.detail(await this.writes.write((repository) => repository.createArea(body)));
  }

  @Patch(':id')
  @Roles('admin')
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
      HttpStatus.NOT_FOUND,
      HttpStatus.CONFLICT,
      HttpStatus.SERVICE_UNAVAILABLE,
    ],
  })
  async update(
    @Param('id') id: string,
    @Body(new ZodValidationPipe(patchAreaBody, 'field')) body: PatchAreaBody,
    @Query(NoParameters) _query: object,
  ): Promise<AreaDetailBody> {
    return this.detail(await this.writes.write((repository) => repository.updateArea(id, body)));
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
  @ApiOperation({ summary: 'The administrative area tree as a flat list (parentId links)' })
  @ApiAnswers({ body: areaListBody, errors: [HttpStatus.BAD_REQUEST] })
  list(@Query(NoParameters) _query: object): AreaListBody {
    return this.registry.listAreas();
  }

  @Get(':id')
  @ApiOperation({ summary: 'One area with its path from the root' })
  @ApiParam({ name: 'id', description: 'area id', schema: { type: 'string' } })
  @ApiAnswers({ body: areaDetailBody, errors: [HttpStatus.BAD_REQUEST, HttpStatus.NOT_FOUND] })
  get(@Param('id') id: string, @Query(NoParameters) _query: object): AreaDetailBody {
    const area = this.registry.getArea(id);
    if (!area)
      throw new NotFoundException({
        statusCode: 404,
        error: 'Not Found',
        message: `No area "${id.slice(0, 64)}"`,
      });
    return { ...area, path: [...this.registry.areaPath(id)] };
  }
}
