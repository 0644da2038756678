import {
  Body,
  BadRequestException,
  Controller,
  Get,
  HttpCode,
  HttpStatus,
  Param,
  Patch,
  Post,
  Query,
  Req,
  Res,
  UnsupportedMediaTypeException,
} from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { z } from 'zod';
import {
  type Device,
  type DeviceState,
  domainOf,
  type ImportJobBody,
  importJobBody,
  type ImportReportBody,
  importReportBody,
  type DeviceDetailBody,
  type DeviceHistoryBody,
  type DeviceListBody,
  deviceDetailBody,
  deviceHistoryBody,
  deviceListBody,
  type LatestBody,
  latestBody,
} from '@ioc/contracts';
import { devicesToCsv, devicesToGeoJson, type DeviceFileFormat, parseDeviceFile } from '@ioc/registry';
import { Roles } from '../common/auth.decorators';
import { ApiAnswers, ApiBodyFrom, ApiQueriesFrom, openApiSchema } from '../common/openapi-zod';
import { registryHttpError } from '../common/registry-errors';
import { NoParameters, ZodValidationPipe } from '../common/zod-validation.pipe';
import { deviceHistoryParams, type DeviceHistoryParams } from '../history/history-params';
import { HistoryService } from '../history/history.service';
import { deviceListQuery, type DeviceListQuery } from './device-queries';
import {
  type CreateDeviceBody,
  createDeviceBody,
  type ExportQuery,
  exportQuery,
  type ImportQuery,
  importQuery,
  type PatchDeviceBody,
  patchDeviceBody,
} from './device-bodies';
import { DevicesService } from './devices.service';
import { ImportJobs } from './import-jobs.service';
import { RegistryWrites } from './registry-writes.service';

const DEVICE_ID = ApiParam({ name: 'id', description: 'device id', schema: { type: 'string' } });
const WRITE_ERRORS = [
  HttpStatus.BAD_REQUEST,
  HttpStatus.NOT_FOUND,
  HttpStatus.CONFLICT,
  HttpStatus.SERVICE_UNAVAILABLE,
];

/** Import bodies larger than this are refused with 413 (a 10,000-device CSV is about 1.5 MB). */
export const IMPORT_BODY_LIMIT_BYTES = 32 * 1024 * 1024;

@ApiTags('devices')
@Controller('api/v1/devices')
export class DevicesController {
  constructor(
    private readonly devices: DevicesService,
    private readonly history$: HistoryService,
    private readonly writes: RegistryWrites,
    private readonly jobs: ImportJobs,
  ) {}

  @Get()
  @ApiOperation({
    summary: 'Registered devices, filtered by domain, type and area (area includes its sub-areas)',
  })
  @ApiQueriesFrom(deviceListQuery)
  @ApiAnswers({ body: deviceListBody, errors: [HttpStatus.BAD_REQUEST] })
  list(@Query(new ZodValidationPipe(deviceListQuery)) query: DeviceListQuery): DeviceListBody {
    return this.devices.list(query);
  }

  @Post()
  @Roles('admin')
  @ApiOperation({
    summary: 'Registers a device (state active unless given; domain derived from the type when left out)',
  })
  @ApiBodyFrom(createDeviceBody)
  @ApiAnswers({ body: deviceDetailBody, status: HttpStatus.CREATED, errors: WRITE_ERRORS })
  async create(
    @Body(new ZodValidationPipe(createDeviceBody, 'field')) body: CreateDeviceBody,
    @Query(NoParameters) _query: object,
  ): Promise<DeviceDetailBody> {
    const device = { ...body, domain: body.domain ?? domainOf(body.type) } as Device;
    return this.detail(await this.writes.write((repository) => repository.createDevice(device)));
  }

  @Get('export')
  @Roles('admin')
  @ApiOperation({
    summary: 'The registry as CSV or GeoJSON (a FeatureCollection of [lon, lat] Points), as import reads it',
    description:
      "CSV columns: id, type, domain, name, areaId, lat, lon, state, silenceTimeoutSeconds, attr.<name>… (UTF-8 with a byte-order mark, CRLF; a text cell starting with =, +, -, @, tab or CR is written with a leading ' so a spreadsheet does not run it as a formula, and the import removes it). GeoJSON: RFC 7946, properties flat (attributes as attr.<name>). Both open in QGIS; importing either back changes nothing. Filters as for the list.",
  })
  @ApiQueriesFrom(exportQuery)
  @ApiAnswers({
    body: z.string(),
    files: {
      'text/csv': 'format=csv: the CSV file',
      'application/geo+json': 'format=geojson: a FeatureCollection (RFC 7946)',
    },
    errors: [HttpStatus.BAD_REQUEST],
  })
  export(
    @Query(new ZodValidationPipe(exportQuery)) query: ExportQuery,
    @Res({ passthrough: true }) response: Response,
  ): string {
    const devices = this.devices.matching(query);
    if (query.format === 'csv') {
      response.type('text/csv; charset=utf-8').attachment('devices.csv');
      return devicesToCsv(devices);
    }
    response.type('application/geo+json; charset=utf-8').attachment('devices.geojson');
    return JSON.stringify(devicesToGeoJson(devices));
  }

  @Post('import')
  @Roles('admin')
  @ApiOperation({
    summary: 'Creates or updates devices from a CSV or GeoJSON file, with a report of every row',
    description:
      'Body: the file, UTF-8 (Content-Type text/csv, application/geo+json or application/json; up to 32 MB and 50,000 rows). A bad row is refused with its reason and row number and never stops the good ones; a row equal to what is stored is unchanged, so the same file imported twice changes nothing; an updated row lists the fields it changes (changed). A column or property absent from the file keeps the stored value; an empty cell (GeoJSON null) clears it; attributes merge by name (attr.x sets or, empty, removes x; others are kept). Cells are not trimmed; lat, lon and silenceTimeoutSeconds are plain decimals. One transaction per file. dryRun=true reports without storing. async=true answers 202 with a job at once (Location: the job), whose GET shows progress (rows done of total) and, when done, the report. A file that cannot be read at all (not UTF-8, not CSV, no header, not a FeatureCollection, too many rows) is a 400 naming the problem.',
  })
  @ApiQueriesFrom(importQuery)
  @ApiConsumes('text/csv', 'application/geo+json', 'application/json')
  @ApiBody({
    required: true,
    description:
      "The file, UTF-8 (a byte-order mark is accepted; invalid UTF-8 is a 400 naming the byte offset): a CSV with a header row (id, type, name, areaId, lat, lon required; domain, state, silenceTimeoutSeconds, attr.<name> optional; a leading ' before =, +, -, @, tab or CR is removed, as the export writes it), or a GeoJSON FeatureCollection of Point features with the fields in properties",
    schema: { type: 'string', format: 'binary' },
  })
  @ApiResponse({
    status: HttpStatus.ACCEPTED,
    description: 'async=true: the import job, started (Location: the job to GET for progress and the report)',
    schema: openApiSchema(importJobBody),
  })
  @ApiAnswers({
    body: importReportBody,
    errors: [
      HttpStatus.BAD_REQUEST,
      HttpStatus.PAYLOAD_TOO_LARGE,
      HttpStatus.UNSUPPORTED_MEDIA_TYPE,
      HttpStatus.SERVICE_UNAVAILABLE,
    ],
  })
  async import(
    @Query(new ZodValidationPipe(importQuery)) query: ImportQuery,
    @Req() request: Request,
    @Res() response: Response,
  ): Promise<void> {
    const format = query.format ?? formatOf(request);
    const file: unknown = request.body;
    if (!Buffer.isBuffer(file) || file.length === 0) {
      throw badRequest('the body must be the file to import (CSV or GeoJSON)');
    }
    let rows;
    try {
      rows = parseDeviceFile(format, file);
    } catch (error) {
      throw registryHttpError(error);
    }
    const dryRun = query.dryRun ?? false;
    const run = async (progress?: (done: number) => void): Promise<ImportReportBody> => {
      const report = dryRun
        ? await this.writes.read((repository) => repository.importDevices(rows, progress, { dryRun }))
        : await this.writes.write((repository) => repository.importDevices(rows, progress));
      return { dryRun, ...report };
    };
    // The answer is sent here (200 or 202, decided at run time); errors thrown before reach the filter.
    if (query.async) {
      this.writes.requireDatabase(); // 503 now rather than a failed job
      const job = this.jobs.start(rows.length, run);
      response
        .status(HttpStatus.ACCEPTED)
        .location(`/api/v1/devices/import/jobs/${job.id}`)
        .json(job satisfies ImportJobBody);
      return;
    }
    response.status(HttpStatus.OK).json(await run());
  }

  @Get('import/jobs/:jobId')
  @Roles('admin')
  @ApiOperation({ summary: 'An import started with async=true: progress, then the report' })
  @ApiParam({ name: 'jobId', schema: { type: 'string' } })
  @ApiAnswers({ body: importJobBody, errors: [HttpStatus.BAD_REQUEST, HttpStatus.NOT_FOUND] })
  importJob(@Param('jobId') jobId: string, @Query(NoParameters) _query: object): ImportJobBody {
    return this.jobs.get(jobId);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One device with its area path' })
  @DEVICE_ID
  @ApiAnswers({ body: deviceDetailBody, errors: [HttpStatus.BAD_REQUEST, HttpStatus.NOT_FOUND] })
  get(@Param('id') id: string, @Query(NoParameters) _query: object): DeviceDetailBody {
    return this.devices.get(id);
  }

  @Get(':id/latest')
  @ApiOperation({
    summary:
      'Latest value of each metric the device reported (status metrics included), with its time, unit and, for camera events, the event',
  })
  @DEVICE_ID
  @ApiAnswers({
    body: latestBody,
    errors: [HttpStatus.BAD_REQUEST, HttpStatus.NOT_FOUND, HttpStatus.SERVICE_UNAVAILABLE],
  })
  latest(@Param('id') id: string, @Query(NoParameters) _query: object): Promise<LatestBody> {
    return this.devices.latest(id);
  }

  @Get(':id/history')
  @ApiOperation({
    summary: 'History of one metric: raw points, or one aggregate per window',
    description:
      'metric: any metric the device can report, status metrics (online, batteryLevel, rssi, firmwareVersion) included. from/to: ISO-8601 with seconds and an offset, or epoch ms (default: the last 24 h). every: window (30s, 5m, 1h, 1d; 1s to 3650d); fn: mean|min|max|last (default mean when every is set). Windows align on midnight in tz (default Asia/Ho_Chi_Minh); empty windows are omitted. The answer comes from the coarsest stored resolution that answers exactly (raw, 1-minute or 1-hour rollups) and names it in `resolution`; a point of a camera event says which event it was. format=csv for CSV.',
  })
  @DEVICE_ID
  @ApiQueriesFrom(deviceHistoryParams)
  @ApiAnswers({
    body: deviceHistoryBody,
    csv: true,
    errors: [HttpStatus.BAD_REQUEST, HttpStatus.NOT_FOUND, HttpStatus.SERVICE_UNAVAILABLE],
  })
  async history(
    @Param('id') id: string,
    @Query(new ZodValidationPipe(deviceHistoryParams)) params: DeviceHistoryParams,
    @Res({ passthrough: true }) response: Response,
  ): Promise<DeviceHistoryBody | string> {
    const { body, answer } = await this.devices.history(id, params);
    if (params.format === 'csv') {
      response.type('text/csv; charset=utf-8');
      return this.history$.toCsv(answer);
    }
    return body;
  }

  @Patch(':id')
  @Roles('admin')
  @ApiOperation({
    summary:
      "Changes a device's name, area, location, attributes or silence timeout (null clears the last two)",
  })
  @DEVICE_ID
  @ApiBodyFrom(patchDeviceBody)
  @ApiAnswers({ body: deviceDetailBody, errors: WRITE_ERRORS })
  async update(
    @Param('id') id: string,
    @Body(new ZodValidationPipe(patchDeviceBody, 'field')) body: PatchDeviceBody,
    @Query(NoParameters) _query: object,
  ): Promise<DeviceDetailBody> {
    return this.detail(await this.writes.write((repository) => repository.updateDevice(id, body)));
  }

  @Post(':id/suspend')
  @Roles('admin')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Suspends a device: it is refused at CONNECT and its live sessions end' })
  @DEVICE_ID
  @ApiAnswers({ body: deviceDetailBody, errors: WRITE_ERRORS })
  suspend(@Param('id') id: string, @Query(NoParameters) _query: object): Promise<DeviceDetailBody> {
    return this.setState(id, 'suspended');
  }

  @Post(':id/resume')
  @Roles('admin')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Resumes a suspended device (active again)' })
  @DEVICE_ID
  @ApiAnswers({ body: deviceDetailBody, errors: WRITE_ERRORS })
  resume(@Param('id') id: string, @Query(NoParameters) _query: object): Promise<DeviceDetailBody> {
    return this.setState(id, 'active');
  }

  @Post(':id/retire')
  @Roles('admin')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Retires a device for good: refused at CONNECT, kept so its history keeps its name and place',
  })
  @DEVICE_ID
  @ApiAnswers({ body: deviceDetailBody, errors: WRITE_ERRORS })
  retire(@Param('id') id: string, @Query(NoParameters) _query: object): Promise<DeviceDetailBody> {
    return this.setState(id, 'retired');
  }

  private async setState(id: string, state: DeviceState): Promise<DeviceDetailBody> {
    return this.detail(await this.writes.write((repository) => repository.setDeviceState(id, state)));
  }

  /** A written device as GET answers it (after the refresh, the in-memory registry has it). */
  private detail(device: Device): DeviceDetailBody {
    let areaPath: string[] = [];
    try {
      areaPath = this.devices.get(device.id).areaPath;
    } catch {
      // The refresh failed (logged by RegistrySync): answer what was stored.
    }
    return { ...device, areaPath };
  }
}

function badRequest(message: string): BadRequestException {
  return new BadRequestException({ statusCode: 400, error: 'Bad Request', message });
}

/** The import format a request's Content-Type names; 415 for any other. */
function formatOf(request: Request): DeviceFileFormat {
  const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (type === 'text/csv') return 'csv';
  if (type === 'application/geo+json' || type === 'application/json') return 'geojson';
  throw new UnsupportedMediaTypeException({
    statusCode: 415,
    error: 'Unsupported Media Type',
    message: `Content-Type "${type.slice(0, 64)}" is not an import format: send text/csv, application/geo+json or application/json (or name ?format=)`,
  });
}
