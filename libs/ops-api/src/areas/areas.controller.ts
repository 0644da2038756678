import { Controller, Get, HttpStatus, Inject, NotFoundException, Param, Query } from '@nestjs/common';
import { ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { type AreaDetailBody, areaDetailBody, type AreaListBody, areaListBody } from '@ioc/contracts';
import { ApiAnswers } from '../common/openapi-zod';
import { NoParameters } from '../common/zod-validation.pipe';
import type { RegistryReader } from '../registry-port';
import { DEVICE_REGISTRY } from '../tokens';

@ApiTags('areas')
@Controller('api/v1/areas')
export class AreasController {
  constructor(@Inject(DEVICE_REGISTRY) private readonly registry: RegistryReader) {}

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
