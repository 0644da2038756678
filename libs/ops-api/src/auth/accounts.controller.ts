import {
  Body,
  ConflictException,
  Controller,
  Get,
  HttpCode,
  HttpStatus,
  Inject,
  NotFoundException,
  Param,
  Patch,
  Post,
  Query,
} from '@nestjs/common';
import { ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import {
  type AccountBody,
  accountBody,
  type AccountListBody,
  accountListBody,
  type CreateAccountBody,
  createAccountBody,
  type PatchAccountBody,
  patchAccountBody,
  type Principal,
  type ResetPasswordBody,
  resetPasswordBody,
} from '@ioc/contracts';
import type { AccessPort } from '../access-port';
import { AuditedRequest, AuditTrail } from '../audit/audit-trail.service';
import { type AuthenticatedRequest, CurrentPrincipal, Roles } from '../common/auth.decorators';
import { ApiAnswers, ApiBodyFrom } from '../common/openapi-zod';
import { NoParameters, ZodValidationPipe } from '../common/zod-validation.pipe';
import { UnscopedOnly } from '../common/scope.service';
import { ACCESS } from '../tokens';
import { accessWrite } from './access-errors';
import { accountView } from './access-views';
import { AuthEvents } from './auth-events';

const ACCOUNT_ID = ApiParam({ name: 'id', description: 'account id', schema: { type: 'string' } });
const WRITE_ERRORS = [HttpStatus.BAD_REQUEST, HttpStatus.NOT_FOUND, HttpStatus.CONFLICT];

/**
 * `/api/v1/accounts` (admin): people's accounts — list, create, change role, display name,
 * agency and scope, disable (its sessions end at once) and enable, set a new password.
 */
@ApiTags('accounts')
@Roles('admin')
@UnscopedOnly('administration')
@Controller('api/v1/accounts')
export class AccountsController {
  constructor(
    @Inject(ACCESS) private readonly access: AccessPort,
    private readonly events: AuthEvents,
    private readonly audit: AuditTrail,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Every account, local and single sign-on; never a password' })
  @ApiAnswers({ body: accountListBody, errors: [HttpStatus.BAD_REQUEST] })
  async list(@Query(NoParameters) _query: object): Promise<AccountListBody> {
    return { items: (await this.access.accounts.list()).map(accountView) };
  }

  @Post()
  @ApiOperation({
    summary: 'Creates a local account',
    description:
      'username: lower-case letters, digits, ".", "_", "-" (unique ignoring case). password: 12-256 characters, not the username, not one repeated character, not a common password (NIST SP 800-63B §5.1.1.2). agencyId: the agency the person works for (their scope is at most its scope); scope narrows it further.',
  })
  @ApiBodyFrom(createAccountBody)
  @ApiAnswers({ body: accountBody, status: HttpStatus.CREATED, errors: WRITE_ERRORS })
  async create(
    @CurrentPrincipal() principal: Principal,
    @Body(new ZodValidationPipe(createAccountBody, 'field')) body: CreateAccountBody,
    @Query(NoParameters) _query: object,
    @AuditedRequest() request: AuthenticatedRequest,
  ): Promise<AccountBody> {
    const account = accountView(await accessWrite(() => this.access.accounts.create(body)));
    await this.audit.record(request, {
      actor: principal,
      action: 'account.create',
      entity: { type: 'account', id: account.id },
      after: account,
    });
    return account;
  }

  @Get(':id')
  @ApiOperation({ summary: 'One account' })
  @ACCOUNT_ID
  @ApiAnswers({ body: accountBody, errors: [HttpStatus.BAD_REQUEST, HttpStatus.NOT_FOUND] })
  async get(@Param('id') id: string, @Query(NoParameters) _query: object): Promise<AccountBody> {
    return accountView(await this.found(id));
  }

  @Patch(':id')
  @ApiOperation({
    summary: "Changes an account's display name, role, agency or scope (null clears the last two)",
    description:
      'Takes effect on the next request of its sessions (role and scope are read on every request).',
  })
  @ACCOUNT_ID
  @ApiBodyFrom(patchAccountBody)
  @ApiAnswers({ body: accountBody, errors: WRITE_ERRORS })
  async update(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Body(new ZodValidationPipe(patchAccountBody, 'field')) body: PatchAccountBody,
    @Query(NoParameters) _query: object,
    @AuditedRequest() request: AuthenticatedRequest,
  ): Promise<AccountBody> {
    const before = accountView(await this.found(id));
    if (id === principal.id && body.role !== undefined && body.role !== 'admin') {
      throw conflict('an admin cannot lower their own role (another admin can)');
    }
    const after = accountView(await accessWrite(() => this.access.accounts.update(id, body)));
    await this.audit.record(request, {
      actor: principal,
      action: 'account.update',
      entity: { type: 'account', id },
      before,
      after,
    });
    return after;
  }

  @Post(':id/disable')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Disables an account: its sessions end at once, its logins are refused' })
  @ACCOUNT_ID
  @ApiAnswers({ body: accountBody, errors: WRITE_ERRORS })
  async disable(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Query(NoParameters) _query: object,
    @AuditedRequest() request: AuthenticatedRequest,
  ): Promise<AccountBody> {
    if (id === principal.id) throw conflict('an admin cannot disable their own account (another admin can)');
    const before = accountView(await this.found(id));
    const after = accountView(await accessWrite(() => this.access.accounts.disable(id)));
    this.events.publish({ kind: 'account', accountId: id, reason: 'account-disabled' });
    await this.audit.record(request, {
      actor: principal,
      action: 'account.disable',
      entity: { type: 'account', id },
      before,
      after,
    });
    return after;
  }

  @Post(':id/enable')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Enables a disabled account (and lifts a lockout)' })
  @ACCOUNT_ID
  @ApiAnswers({ body: accountBody, errors: WRITE_ERRORS })
  async enable(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Query(NoParameters) _query: object,
    @AuditedRequest() request: AuthenticatedRequest,
  ): Promise<AccountBody> {
    const before = accountView(await this.found(id));
    const after = accountView(await accessWrite(() => this.access.accounts.enable(id)));
    await this.audit.record(request, {
      actor: principal,
      action: 'account.enable',
      entity: { type: 'account', id },
      before,
      after,
    });
    return after;
  }

  @Post(':id/password')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: "Sets a new password for an account (a forgotten one); the account's sessions end",
    description:
      '12-256 characters, not the username, not one repeated character, not a common password (NIST SP 800-63B §5.1.1.2).',
  })
  @ACCOUNT_ID
  @ApiBodyFrom(resetPasswordBody)
  @ApiAnswers({ body: accountBody, errors: WRITE_ERRORS })
  async resetPassword(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Body(new ZodValidationPipe(resetPasswordBody, 'field')) body: ResetPasswordBody,
    @Query(NoParameters) _query: object,
    @AuditedRequest() request: AuthenticatedRequest,
  ): Promise<AccountBody> {
    await this.found(id);
    // setPassword ends every session of the account (reason password-changed).
    await accessWrite(() => this.access.accounts.setPassword(id, body.password));
    this.events.publish({ kind: 'account', accountId: id, reason: 'session-ended' });
    await this.audit.record(request, {
      actor: principal,
      action: 'account.password',
      entity: { type: 'account', id },
      detail: { by: 'admin' },
    });
    return accountView(await this.found(id));
  }

  private async found(id: string) {
    const account = await this.access.accounts.get(id);
    if (!account) {
      throw new NotFoundException({
        statusCode: 404,
        error: 'Not Found',
        message: `no account "${id.slice(0, 64)}"`,
      });
    }
    return account;
  }
}

function conflict(message: string): ConflictException {
  return new ConflictException({ statusCode: 409, error: 'Conflict', message });
}
