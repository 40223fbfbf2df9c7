import { IsString, MaxLength, MinLength } from 'class-validator';

/** Body of `POST /api/v1/session`. */
export class SignInDto {
  /** A bearer token (JWT), as `autocode token create` prints it */
  @IsString() @MinLength(1) @MaxLength(8192)
  token: string;
}

/** Body of `POST /api/v1/session/login-link`. */
export class RedeemLoginLinkDto {
  /** The code after `#code=` in a link printed by `autocode token create --login-url` */
  @IsString() @MinLength(1) @MaxLength(256)
  code: string;
}
